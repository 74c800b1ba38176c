using Microsoft.Extensions.Logging;

namespace CmpCluster.Grains.Audit;

/// <summary>Audit trail events. Only chain ids, counts and key ids: never the content of an audit record.</summary>
internal static partial class AuditLog
{
    [LoggerMessage(EventId = 700, Level = LogLevel.Information, Message = "Audit trail started: chain {ChainId}, checkpoints signed by audit key {KeyId}, store {Store}")]
    public static partial void Started(ILogger logger, string chainId, string keyId, string store);

    [LoggerMessage(EventId = 701, Level = LogLevel.Error, Message = "Audit store write of {Count} records failed: those appends are refused")]
    public static partial void WriteFailed(ILogger logger, Exception exception, int count);

    [LoggerMessage(EventId = 702, Level = LogLevel.Warning, Message = "Audit chain {ChainId} continues after a failed write at sequence {Sequence} as the store has it")]
    public static partial void Resynchronized(ILogger logger, string chainId, long sequence);

    [LoggerMessage(EventId = 703, Level = LogLevel.Information, Message = "Audit trail stopped: chain {ChainId} ends at sequence {Sequence}")]
    public static partial void Stopped(ILogger logger, string chainId, long sequence);

    [LoggerMessage(EventId = 704, Level = LogLevel.Error, Message = "Audit chain {ChainId}: the final checkpoint could not be written")]
    public static partial void FinalCheckpointFailed(ILogger logger, Exception exception, string chainId);
}
