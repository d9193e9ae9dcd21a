-- Concatenates arrays across rows: runboard_array_concat(buckets) over a group's rollup rows is
-- every (bucket, runs) pair of the group in one array, which the reader sums per bucket itself.
-- Cheaper than unnesting each row and grouping the pairs again: the overview's "Needs attention"
-- merges the histograms of thousands of rollup rows per request.
CREATE AGGREGATE runboard_array_concat(anycompatiblearray) (
  SFUNC = array_cat,
  STYPE = anycompatiblearray
);
