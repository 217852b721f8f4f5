"""The whole serverless system on one machine: `make run`.

An embedded moto server stands in for AWS; template.yaml is deployed into it; each SQS
event source mapping gets a poller that calls the function's real handler in warm
subprocesses (Lambda's execution environments); schedules fire on their cron; the web
app runs as the web Lambda is configured. One terminal shows every part's log lines.
"""
