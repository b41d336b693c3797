-- Statistics for the staged events, so that the aggregates' GROUP BYs are planned for their size.
ANALYZE new_usage
