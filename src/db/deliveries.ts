/** A webhook delivery, by its X-GitHub-Delivery id. */
export interface Delivery {
  id: string;
  event: string;
  action: string | null;
}
