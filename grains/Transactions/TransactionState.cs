using CmpCluster.Contracts;
using CmpCluster.Grains.Authentication;

namespace CmpCluster.Grains.Transactions;

/// <summary>
/// What a transaction remembers between messages. Only DER and small values; no secret. Its store keeps it with its due
/// time (a confirm or wait deadline, found by the deadline sweeper) and, once closed, deletes it at the end of retention.
/// </summary>
[GenerateSerializer]
[Alias("CmpCluster.TransactionState")]
public sealed class TransactionState : Storage.IStateLifetime
{
    [Id(0)] public TransactionPhase Phase { get; set; }

    /// <summary>SHA-256 of the last request admitted; an identical retransmission gets <see cref="LastResponse"/>.</summary>
    [Id(1)] public byte[]? LastRequestHash { get; set; }

    [Id(2)] public byte[]? LastResponse { get; set; }

    /// <summary>senderNonce of our last response: the recipNonce a follow-up must carry.</summary>
    [Id(3)] public byte[]? LastSenderNonce { get; set; }

    /// <summary>The protection the transaction started with; every later message must use the same.</summary>
    [Id(4)] public ProtectionKind? Protection { get; set; }

    [Id(5)] public byte[]? SenderKid { get; set; }

    [Id(6)] public List<PendingCertificate> Pending { get; set; } = [];

    [Id(7)] public DateTimeOffset? ConfirmDeadline { get; set; }

    /// <summary>Phase Closed: why (<see cref="TransactionMachine.Next"/> decides). Id 8 held a free-text outcome before; it is skipped when read.</summary>
    [Id(20)] public TransactionOutcome? ClosedAs { get; set; }

    [Id(9)] public List<string> CertificateKeys { get; set; } = [];

    /// <summary>Client mode: the end entity this transaction enrolls.</summary>
    [Id(10)] public string? Username { get; set; }

    /// <summary>kur: the certificate being updated; superseded (if the alias says so) once the new one is confirmed.</summary>
    [Id(11)] public string? UpdatedCertificateKey { get; set; }

    /// <summary>Delayed delivery (RFC 9483 §4.4): the request that waits, its certReqId, why, and an operator's decision.</summary>
    [Id(12)] public byte[]? WaitingRequest { get; set; }

    [Id(13)] public long WaitingCertReqId { get; set; }

    [Id(14)] public WaitReason? WaitReason { get; set; }

    [Id(15)] public ApprovalDecision Approval { get; set; }

    /// <summary>Phase Issuing: the certificate being issued, and the hash of the request that asked for it.</summary>
    [Id(16)] public string? IssuingCertificateKey { get; set; }

    [Id(17)] public byte[]? IssuingRequestHash { get; set; }

    /// <summary>Phase Closed: when the store may delete this state (duplicates and replays are recognised until then).</summary>
    [Id(18)] public DateTimeOffset? RetainUntil { get; set; }

    /// <summary>Phase Waiting: when the waiting request is rejected if it is still waiting.</summary>
    [Id(19)] public DateTimeOffset? WaitDeadline { get; set; }

    public DateTimeOffset? DueAt => Phase switch
    {
        TransactionPhase.AwaitingConfirmation or TransactionPhase.Issuing => ConfirmDeadline,
        TransactionPhase.Waiting => WaitDeadline,
        _ => null,
    };

    public DateTimeOffset? ExpiresAt => Phase == TransactionPhase.Closed ? RetainUntil : null;
}

public enum WaitReason
{
    /// <summary>The profile requires an operator's approval.</summary>
    Approval = 0,
    /// <summary>The silo's signer was saturated (Cmp:MaxConcurrentIssuances): back-pressure instead of failure.</summary>
    Capacity = 1,
    /// <summary>A request-handler plug-in deferred its decision (protocol/Policy/IEnrollmentPolicy.cs); asked again at each poll.</summary>
    Policy = 2,
}

public enum ApprovalDecision
{
    None = 0,
    Pending = 1,
    Approved = 2,
    Rejected = 3,
}
