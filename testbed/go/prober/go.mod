module azs-testbed/prober

go 1.24
