from snippetgen.launch import main

main()
