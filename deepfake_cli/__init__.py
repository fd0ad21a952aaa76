"""`deepfake-detect`, the command line: an application on top of the library, beside `steps/`, `pipelines/` and
`serving/` (the library knows none of them). It works from a checkout and from an installed wheel."""
