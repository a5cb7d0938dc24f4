public enum SpoolAnalysisPlaceholder {}
