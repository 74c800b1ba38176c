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

    [LoggerMessage(EventId = 304, Level = LogLevel.Information, Message = "Admin API: {Action} end entity {Username}")]
    public static partial void EndEntityChanged(ILogger logger, string action, string username);

    [LoggerMessage(EventId = 305, Level = LogLevel.Information,
        Message = "Admin API: bulk registration of {Count} end entities (replace={Replace}): {Created} created, {Replaced} replaced, {Existing} existing, {Invalid} invalid in {ElapsedMs} ms")]
    public static partial void Bulk(ILogger logger, int count, bool replace, int created, int replaced, int existing, int invalid, long elapsedMs);

    [LoggerMessage(EventId = 306, Level = LogLevel.Warning, Message = "Admin API: the cluster did not answer {Method} {Path}")]
    public static partial void ClusterUnavailable(ILogger logger, Exception exception, string method, string path);

    [LoggerMessage(EventId = 307, Level = LogLevel.Information, Message = "Admin API: revoked certificate {Ca}/{Serial} reason={Reason}")]
    public static partial void CertificateRevoked(ILogger logger, string ca, string serial, string reason);

    [LoggerMessage(EventId = 308, Level = LogLevel.Information, Message = "Admin API: issued CRL {Number} of CA {Ca}")]
    public static partial void CrlIssued(ILogger logger, string ca, long number);

    [LoggerMessage(EventId = 309, Level = LogLevel.Information, Message = "Admin API: request {Alias}/{TransactionId} {Decision}")]
    public static partial void ApprovalDecided(ILogger logger, string alias, string transactionId, string decision);
}
