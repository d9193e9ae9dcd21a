/** The database global setup migrates once; each test file's database is cloned from it. */
export const TEMPLATE_DATABASE = "runboard_test_template";
