"""The infrastructure the tasks run on, as template.yaml declares it.

`cfn` reads the template as CloudFormation does once its AWS::LanguageExtensions transform
has run (each task queue is one entry of a Fn::ForEach loop); `task_queues` turns that into
typed records: the task queues, their workers and the numbers the task settings must fit.
Reading YAML needs PyYAML and samtranslator, development tools: nothing here runs on Lambda,
where template.yaml is not shipped.
"""
