namespace CmpCluster.Silo;

internal static partial class StartupLog
{
    [LoggerMessage(EventId = 10, Level = LogLevel.Warning,
        Message = "!!! CMP alias {Alias} uses the shipped development secret: set Cmp__Aliases__{Alias}__Secret before any real use. !!!")]
    public static partial void DevelopmentSecret(ILogger logger, string alias);
}
