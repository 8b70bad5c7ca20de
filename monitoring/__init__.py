"""Reading the worker's outputs back to say what a slate covers, what it does not and why:
shared by `propstream health` (cli/) and the dashboard's health page, so both show one report
computed one way."""
