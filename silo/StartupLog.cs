namespace CmpCluster.Silo;

internal static partial class StartupLog
{
    [LoggerMessage(EventId = 10, Level = LogLevel.Warning,
        Message = "!!! CMP alias {Alias} uses the shipped development secret: set Cmp__Aliases__{Alias}__Secret before any real use. !!!")]
    public static partial void DevelopmentSecret(ILogger logger, string alias);

    [LoggerMessage(EventId = 11, Level = LogLevel.Critical, Message = "Configuration is invalid: {Failures}")]
    public static partial void InvalidConfiguration(ILogger logger, string failures);

    [LoggerMessage(EventId = 12, Level = LogLevel.Critical, Message = "The node could not start: {Reason}")]
    public static partial void StartFailed(ILogger logger, string reason);
}
