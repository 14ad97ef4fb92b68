from wegweiser.cli import main

main()
