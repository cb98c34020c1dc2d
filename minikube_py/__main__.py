from minikube_py.cli import main

main()
