"""The deployment side of the project: reading template.yaml, building the Lambda artifacts,
and deploying the template without AWS (translated offline, into moto).

Nothing here ships to Lambda: these modules run on a developer's machine, in CI, under
`sam build` (Makefile build-* targets) and under `zappa package` (the zip callback).
"""
