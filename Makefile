# marlgpt: `make demo` and `make test` set everything up themselves (idempotent).
SHELL := /bin/bash
RUN := scripts/run
PYTEST_ARGS ?=
ARGS ?=

.PHONY: help setup test lint format shell demo keystore lock clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

setup:  ## create .venv, install pinned packages, build ros2_ws (fast when nothing changed)
	@scripts/setup.sh

test: setup  ## set up, lint, then run the whole test suite
	@$(RUN) ruff check .
	@$(RUN) python -m pytest $(PYTEST_ARGS)

lint: setup  ## ruff lint
	@$(RUN) ruff check .

format: setup  ## ruff autofix and format
	@$(RUN) ruff check --fix .

shell: setup  ## an interactive shell with the venv active and ros2_ws sourced
	@$(RUN)

demo: setup  ## the maze demo: 4 robots on the loopback simulator (options: ARGS="--robots 8 --steps 200")
	@$(RUN) python -m marlgpt_sim.fleet_runner $(ARGS)

keystore: setup  ## the fleet's SROS2 keystore: FLEET=fleet.yaml KEYSTORE=dir ROS_DOMAIN_ID=42 (docs/security.md)
	@test -n "$(FLEET)" -a -n "$(KEYSTORE)" || { echo "make keystore FLEET=FLEET.yaml KEYSTORE=DIR ROS_DOMAIN_ID=N" >&2; exit 2; }
	@PYTHON=.venv/bin/python scripts/fleet_keystore.sh "$(FLEET)" "$(KEYSTORE)"

lock: setup  ## re-resolve requirements/base.in into requirements/lock.txt
	@$(RUN) python scripts/lock.py requirements/base.in requirements/lock.txt

clean:  ## remove the venv and colcon's build/install/log spaces
	rm -rf .venv ros2_ws/build ros2_ws/install ros2_ws/log
