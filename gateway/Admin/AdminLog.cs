using Microsoft.Extensions.Logging;

namespace CmpCluster.Gateway.Admin;

/// <summary>Admin API events. Tokens and enrollment codes are never arguments here.</summary>
internal static partial class AdminLog
{
    public const string Category = "CmpCluster.Gateway.Admin";

    [LoggerMessage(EventId = 300, Level = LogLevel.Warning,
        Message = "!!! Admin API: no token configured; Development accepts the well-known token \"" + AdminOptions.DevelopmentToken
            + "\". Never expose this node. Set Admin__Tokens__0 to a secret. !!!")]
    public static partial void DevelopmentToken(ILogger logger);

    [LoggerMessage(EventId = 301, Level = LogLevel.Warning,
        Message = "Admin API: no token configured, so every admin request is refused (401). Set Admin__Tokens__0 (environment) or --Admin:Tokens:0 to a secret token.")]
    public static partial void NoToken(ILogger logger);

    [LoggerMessage(EventId = 302, Level = LogLevel.Information, Message = "Admin API disabled (Admin:Enabled=false)")]
    public static partial void Disabled(ILogger logger);

    [LoggerMessage(EventId = 303, Level = LogLevel.Warning, Message = "Admin API: refused {Method} {Path} from {Remote}: {Reason}")]
    public static partial void Refused(ILogger logger, string method, string path, string? remote, string reason);



    [LoggerMessage(EventId = 306, Level = LogLevel.Warning, Message = "Admin API: the cluster did not answer {Method} {Path}")]
    public static partial void ClusterUnavailable(ILogger logger, Exception exception, string method, string path);



}
