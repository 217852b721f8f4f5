"""Benchmarks: `make bench` (python -m bench) measures cost, speed, cold start and size,
beside the tools users would pick instead, and writes BENCHMARKS.md."""

from stack import emulator_dynamodb

# Every benchmark runs our code against moto, in this process or one it spawns (all import
# this package): what moto lacks of DynamoDB is added first.
emulator_dynamodb.install()
