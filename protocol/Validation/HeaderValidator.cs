using CmpCluster.Contracts;
using CmpCluster.Protocol.Configuration;
using CmpCluster.Protocol.Messages;
using Org.BouncyCastle.Asn1;

namespace CmpCluster.Protocol.Validation;

/// <summary>Header rules checked before any crypto: RFC 9483 §3.1 and RFC 9810 §5.1.1.</summary>
public static class HeaderValidator
{
    /// <summary>Bits in a transactionID or nonce required by RFC 9483 §3.1 (128).</summary>
    public const int MinRandomBytes = 16;

    /// <summary>Upper bound on transactionID and nonce length; nothing legitimate comes near it.</summary>
    public const int MaxRandomBytes = 64;

    public static void Validate(DecodedRequest request, CmpLimits limits, DateTimeOffset now)
    {
        // RFC 9810 §5.1.1 / RFC 9480 §2.20: pvno 2 (cmp2000) or 3 (cmp2021); anything else is a version we do not speak.
        if (request.Pvno is not (2 or 3))
        {
            Fail(PkiFailureInfo.UnsupportedVersion, "pvno must be 2 or 3");
        }

        // RFC 9483 §3.1: transactionID and senderNonce MUST be present with at least 128 bits of randomness.
        if (request.TransactionId is not { Length: >= MinRandomBytes and <= MaxRandomBytes })
        {
            Fail(PkiFailureInfo.BadRequest, "transactionID must be 16 to 64 bytes");
        }
        if (request.SenderNonce is not { Length: >= MinRandomBytes and <= MaxRandomBytes })
        {
            Fail(PkiFailureInfo.BadSenderNonce, "senderNonce must be 16 to 64 bytes");
        }
        if (request.RecipNonce is { Length: > MaxRandomBytes })
        {
            Fail(PkiFailureInfo.BadRecipientNonce, "recipNonce is too long");
        }

        // RFC 9483 §3.1: messageTime SHOULD be present; when present it must be near our clock (badTime).
        Asn1GeneralizedTime? messageTime = request.Header.MessageTime;
        if (messageTime is null && limits.RequireMessageTime)
        {
            // The alias's replay protection: without a time, a request replayed after its transaction was deleted
            // could not be told from a new one.
            Fail(PkiFailureInfo.BadTime, "messageTime is required on this alias");
        }
        if (messageTime is not null)
        {
            DateTimeOffset sent;
            try
            {
                sent = new DateTimeOffset(messageTime.ToDateTime().ToUniversalTime(), TimeSpan.Zero);
            }
            catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException)
            {
                throw new CmpFailureException(PkiFailureInfo.BadTime, "messageTime is not a valid time");
            }
            if ((sent - now).Duration() > limits.MessageTimeWindow)
            {
                Fail(PkiFailureInfo.BadTime, "messageTime is outside the accepted window");
            }
        }

        // Bounds on repeated fields, before anything iterates over them.
        if ((request.Header.GetGeneralInfo()?.Length ?? 0) > limits.MaxGeneralInfo)
        {
            Fail(PkiFailureInfo.BadRequest, "too many generalInfo entries");
        }
        if ((request.Message.GetExtraCerts()?.Length ?? 0) > limits.MaxExtraCerts)
        {
            Fail(PkiFailureInfo.BadRequest, "too many extraCerts");
        }

        // RFC 9810 §5.1.3: protectionAlg and protection come together. Whether a request may be unprotected at all
        // (EJBCA's password extractors in client mode) is for the alias's authentication modules to decide.
        if ((request.ProtectionAlg is null) != (request.Message.Protection is null))
        {
            Fail(PkiFailureInfo.BadMessageCheck, "protectionAlg and protection must be present together");
        }
    }

    private static void Fail(PkiFailureInfo failInfo, string text) => throw new CmpFailureException(failInfo, text);
}
