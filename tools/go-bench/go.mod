module spoolbench

go 1.22
