using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Protocol;

namespace CmpCluster.Grains.Transactions;

/// <summary>
/// Every phase transition of a CMP transaction in one pure function. It decides whether a request
/// that is not an identical retransmission may enter the transaction in its current phase.
/// </summary>
public static class TransactionRules
{
    /// <summary>Request types that open a transaction (RFC 9810 §5.3; RFC 9483 §4).</summary>
    public static bool Opens(PkiBodyType body) => body is PkiBodyType.Ir or PkiBodyType.Cr or PkiBodyType.P10Cr
        or PkiBodyType.Kur or PkiBodyType.Rr or PkiBodyType.Genm or PkiBodyType.Nested or PkiBodyType.Krr or PkiBodyType.Ccr;

    /// <summary>RFC 9810 §5.1.1: a follow-up carries the senderNonce of our last response as its recipNonce.</summary>
    private static CmpFailure? Chained(byte[]? recipNonce, byte[]? expectedRecipNonce) =>
        recipNonce is not null && expectedRecipNonce is not null && CryptographicOperations.FixedTimeEquals(recipNonce, expectedRecipNonce)
            ? null
            : new CmpFailure(PkiFailureInfo.BadRecipientNonce, "recipNonce does not match the last response");

    /// <returns>null when the request is admitted; otherwise the failure that answers it.</returns>
    public static CmpFailure? Admit(TransactionPhase phase, PkiBodyType body, byte[]? recipNonce, byte[]? expectedRecipNonce) => phase switch
    {
        TransactionPhase.New when Opens(body) => null,
        TransactionPhase.New when body is PkiBodyType.CertConf or PkiBodyType.PollReq =>
            new CmpFailure(PkiFailureInfo.BadRequest, "no open transaction has this transactionID"),
        TransactionPhase.New => new CmpFailure(PkiFailureInfo.BadRequest, "message type is not a request a server accepts"),

        // RFC 9810 §5.1.1: a follow-up carries our last senderNonce as recipNonce; a new request may not reuse the ID.
        TransactionPhase.AwaitingConfirmation when body is PkiBodyType.CertConf =>
            Chained(recipNonce, expectedRecipNonce),
        TransactionPhase.AwaitingConfirmation => new CmpFailure(PkiFailureInfo.TransactionIdInUse, "transactionID is in use"),

        // RFC 9483 §4.4: a waiting request is followed by pollReq, chained by the nonces like certConf.
        TransactionPhase.Waiting when body is PkiBodyType.PollReq =>
            Chained(recipNonce, expectedRecipNonce),
        // An issuance a crash interrupted: only the same request may resume it (checked against its hash by the engine).
        TransactionPhase.Issuing when Opens(body) => null,

        TransactionPhase.Waiting => new CmpFailure(PkiFailureInfo.TransactionIdInUse, "transactionID is in use: the request waits, poll it"),

        _ => new CmpFailure(PkiFailureInfo.TransactionIdInUse, "transactionID is in use"),
    };
}
