public enum SpoolRuntimePlaceholder {}
