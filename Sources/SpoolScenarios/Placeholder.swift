public enum SpoolScenariosPlaceholder {}
