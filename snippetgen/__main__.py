from snippetgen.cli import main

main()
