"""What the tests share: the world they build, the domain objects they call, the faults they inject."""
