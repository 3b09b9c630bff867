module azs-testbed/pause

go 1.25.0
