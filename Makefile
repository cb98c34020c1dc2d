# minikube-py: set up, test, lint, demo, bench.  Run as root (sudo make ...).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

# Debian packages the project and its tests need.
#  libcap-dev, gcc, python3-dev: python-prctl builds against libcap
#  docker-registry, skopeo, umoci, busybox-static: real registry + real test images
#  runc: the peer runtime for bench/runtime; iproute2: tests inspect links with `ip`
APT_PACKAGES := python3 python3-venv python3-dev gcc libcap-dev ca-certificates \
	docker-registry skopeo umoci busybox-static runc iproute2 kmod

.PHONY: deps apt venv test test-unit lint demo bench clean install-service uninstall-service

deps: apt venv

apt:
	@missing=$$(for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "apt-get install:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# Bytecode for the editable tree, as a wheel install has it (pip compiles at install):
# without it every command compiles what it imports whenever the tree cannot be written
# or PYTHONDONTWRITEBYTECODE is set (~30 ms off each CLI command, the agent's start...).
venv: $(VENV)/.installed
	@$(PY) -m compileall -q minikube_py oci runtime >/dev/null

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# compat: a plain path in a .pth, not an import-hook finder (~10 ms off every command)
	$(PY) -m pip install -q -e '.[test]' --config-settings editable_mode=compat
	touch $@

test: deps
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: venv
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

demo: deps
	$(PY) examples/demo.py

# Speed, side by side with the peer tools (skopeo+umoci, runc, podman); prints figures.
bench: deps
	bench/pull
	bench/runtime
	bench/pods $(BENCH_PODS_ARGS)

# The agent as a systemd service (options in /etc/minikube-py/agent.yaml).
install-service: deps
	install -d -m 0755 /etc/minikube-py
	test -e /etc/minikube-py/agent.yaml || printf '# minikube-py agent options (see minikube-py agent --help)\n# pod-cidr: 10.244.0.0/24\n# bridge: mkpy0\n# manifests: /etc/minikube-py/manifests\n' > /etc/minikube-py/agent.yaml
	sed 's|@MINIKUBE_PY@|$(CURDIR)/$(VENV)/bin/minikube-py|' contrib/systemd/minikube-py.service > /etc/systemd/system/minikube-py.service
	systemctl daemon-reload
	systemctl enable --now minikube-py.service

uninstall-service:
	-systemctl disable --now minikube-py.service
	rm -f /etc/systemd/system/minikube-py.service
	-systemctl daemon-reload

clean:
	rm -rf $(VENV) build *.egg-info
