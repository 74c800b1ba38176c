using CmpCluster.Contracts;
using CmpCluster.Grains.Certificates;
using CmpCluster.Protocol;
using Org.BouncyCastle.Asn1.Cmp;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Grains.Handlers;

/// <summary>
/// What a handler decided about one request, as data. Every handler returns one of these; the engine alone turns a
/// decision into a phase change (grains/Transactions/TransactionMachine.cs) and a response body
/// (grains/Transactions/DecisionResponses.cs).
/// </summary>
public abstract record Decision;

/// <summary>The request is refused; the answer is an error message (RFC 9810 §5.3.21) with this failInfo.</summary>
public sealed record Refusal(CmpFailure Failure) : Decision;

/// <summary>The request could not be handled because the system failed; nothing it asked for happened.</summary>
public sealed record Fault(CmpFailure Failure) : Decision;

/// <summary>
/// ir / cr / kur: a certificate issued for the request's certReqId, answered in <paramref name="ResponseType"/> (ip, cp or
/// kup) with <paramref name="CaPubs"/>.
/// </summary>
public sealed record Issuance(
    PkiBodyType ResponseType, long CertReqId, IssuedCertificate Certificate, X509CertificateStructure Parsed, X509CertificateStructure[] CaPubs,
    bool ImplicitConfirm) : Decision
{
    /// <summary>RFC 9810 §5.2.3: the certificate differs from what the request asked for (status grantedWithMods).</summary>
    public bool GrantedWithMods { get; init; }

    /// <summary>A server-generated key, encrypted to the requester (RFC 9483 §4.1.6): CertifiedKeyPair.privateKey.</summary>
    public Org.BouncyCastle.Asn1.Crmf.EncryptedKey? PrivateKey { get; init; }
}

/// <summary>
/// RFC 9483 §4.4: the request waits. First answered with status waiting in <paramref name="ResponseType"/> (ip, cp or
/// kup); a pollReq while it still waits is answered with a pollRep (<paramref name="ResponseType"/> pollRep).
/// </summary>
public sealed record Deferral(PkiBodyType ResponseType, long CertReqId, Transactions.WaitReason Reason) : Decision;

/// <summary>certConf: null failure is pkiConf; <see cref="Confirmed"/> are the keys of the certificates now confirmed.</summary>
public sealed record Confirmation(CmpFailure? Failure, IReadOnlyList<string> Confirmed) : Decision;

/// <summary>rr: revoked when <see cref="Failure"/> is null (RFC 9483 §4.2); the rp carries the failure otherwise.</summary>
public sealed record RevocationReply(CmpFailure? Failure, string? CertificateKey, RevocationReason? Reason) : Decision;

/// <summary>genm: the answers for genp (RFC 9483 §4.3), one per recognised InfoTypeAndValue.</summary>
public sealed record InformationReply(IReadOnlyList<InfoTypeAndValue> Answers) : Decision;

/// <summary>nested: the inner messages' responses, DER, in the order of the inner requests.</summary>
public sealed record NestedReply(IReadOnlyList<byte[]> Answers) : Decision;
