namespace CmpCluster.Grains.Audit;

/// <summary>What a record of the audit trail is about. The name (not the number) is what the canonical encoding and
/// the export carry, so members may be added without changing old records.</summary>
public enum AuditEventType
{
    AuthenticationFailed,
    IssuanceIntent,
    CertificateSigned,
    CertificateConfirmed,
    CertificateRejected,
    CertificateRevoked,
    ApprovalDecided,
    AdminAction,
    ConfigurationLoaded,
    KeyLoaded,
    /// <summary>Written by the trail itself: a signature over the chain head (see <see cref="AuditCheckpoint"/>).</summary>
    Checkpoint,
}

/// <summary>
/// One security-relevant event. Short strings that identify who did what to what (an alias, a username, a CA and
/// serial, a transactionID in hex); never a secret, a key or an enrollment code. Over-long values are cut to
/// <see cref="AuditRecord.MaxFieldLength"/> characters.
/// </summary>
public sealed record AuditEvent(AuditEventType Type, string Actor, string Target, string? Detail = null);

/// <summary>
/// Appends events to the audit trail. <see cref="AppendAsync"/> completes only once the record is durable in the
/// store; it throws <see cref="AuditUnavailableException"/> when the store cannot be written, so the caller can refuse
/// the operation it was about to perform (a CA refuses to sign what it cannot record).
/// </summary>
public interface IAuditTrail
{
    Task AppendAsync(AuditEvent auditEvent);
}

/// <summary>
/// The audit store could not be written (or the trail is not running): the event is not recorded. It crosses grain calls
/// (a certificate grain refuses to sign, the transaction answers systemUnavail), hence the serializer.
/// </summary>
[GenerateSerializer]
[Alias("CmpCluster.AuditUnavailableException")]
public sealed class AuditUnavailableException : Exception
{
    public AuditUnavailableException()
        : base("the audit trail is unavailable")
    {
    }

    public AuditUnavailableException(string message)
        : base(message)
    {
    }

    public AuditUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
