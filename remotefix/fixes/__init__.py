"""Fixes: Ansible playbooks run through ansible-runner, practised on labs first."""
