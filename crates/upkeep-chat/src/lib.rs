//! Team threads: round summary, project threads, reactions as status.
