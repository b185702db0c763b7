// StepGraph
