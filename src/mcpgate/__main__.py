from mcpgate.cli import main

main()
