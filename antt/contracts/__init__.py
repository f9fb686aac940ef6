"""Hand-written glue around the generated protobuf code: subjects, envelope, type registry."""
