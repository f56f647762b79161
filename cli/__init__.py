"""Click front end of framepred: parse, call one library function, report."""
