module execgov.io/bench/nullhook

go 1.22
