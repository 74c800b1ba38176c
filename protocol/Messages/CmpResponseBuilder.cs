using System.Security.Cryptography;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Cmp;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Protocol.Messages;

/// <summary>The request-derived header fields of a response (RFC 9810 §5.1.1, RFC 9483 §3.1).</summary>
public sealed record ResponseContext(
    int Pvno,
    GeneralName Recipient,
    byte[] TransactionId,
    byte[]? RecipNonce,
    byte[]? RecipKid)
{
    /// <summary>For a request whose header could not be read: NULL-DN recipient, no nonces to echo.</summary>
    public static ResponseContext Undecoded(byte[] transactionId) =>
        new(2, new GeneralName(X509Name.GetInstance(new DerSequence())), transactionId, null, null);

    public static ResponseContext For(DecodedRequest request) => new(
        request.Pvno is 2 or 3 ? request.Pvno : 2,
        request.Header.Sender,
        request.TransactionId ?? [],
        request.SenderNonce,
        request.SenderKid);
}

/// <summary>A protected response and the senderNonce it carries (the engine expects it back as recipNonce).</summary>
public sealed record BuiltResponse(byte[] Der, byte[] SenderNonce);

/// <summary>Builds and protects every response; errors are rendered here from a <see cref="CmpFailure"/>, in one place.</summary>
public static class CmpResponseBuilder
{
    public static async Task<BuiltResponse> BuildAsync(
        ResponseContext context, PkiBody body, ResponseProtector protector, DateTimeOffset now, bool implicitConfirmGranted = false)
    {
        byte[] senderNonce = RandomNumberGenerator.GetBytes(16);
        var builder = new PkiHeaderBuilder(context.Pvno, protector.Sender, context.Recipient)
            .SetMessageTime(new Asn1GeneralizedTime(now.UtcDateTime))
            .SetProtectionAlg(protector.Algorithm)
            .SetSenderNonce(senderNonce);
        if (context.TransactionId.Length > 0)
        {
            builder.SetTransactionID(context.TransactionId);
        }
        if (context.RecipNonce is not null)
        {
            builder.SetRecipNonce(context.RecipNonce);
        }
        if (protector.SenderKid is not null)
        {
            builder.SetSenderKID(protector.SenderKid);
        }
        if (context.RecipKid is not null)
        {
            builder.SetRecipKID(context.RecipKid);
        }
        if (implicitConfirmGranted)
        {
            // RFC 9810 §5.1.1.1: the server echoes implicitConfirm to grant it; the client then sends no certConf.
            builder.SetGeneralInfo(new InfoTypeAndValue(CmpObjectIdentifiers.it_implicitConfirm, DerNull.Instance));
        }
        PkiHeader header = builder.Build();
        byte[] protectedPart = new ProtectedPart(header, body).GetEncoded(Asn1Encodable.Der);
        byte[] protection = await protector.ProtectAsync(protectedPart);
        return new BuiltResponse(Assemble(protectedPart, protection, protector.ExtraCerts), senderNonce);
    }

    /// <summary>
    /// A response that cannot be protected because the key that would protect it is unavailable (a CMP signer on a
    /// token that went away): sent without protection, as RFC 9810 §5.1.3 and RFC 9483 §3.6.4 allow for an error the
    /// server cannot protect. Only for errors (<c>openssl cmp</c> reads them with <c>-unprotected_errors</c>).
    /// </summary>
    public static BuiltResponse BuildUnprotected(ResponseContext context, PkiBody body, GeneralName sender, DateTimeOffset now)
    {
        if (body.Type != PkiBody.TYPE_ERROR)
        {
            throw new ArgumentException("only an error message goes unprotected", nameof(body));
        }
        byte[] senderNonce = RandomNumberGenerator.GetBytes(16);
        var builder = new PkiHeaderBuilder(context.Pvno, sender, context.Recipient)
            .SetMessageTime(new Asn1GeneralizedTime(now.UtcDateTime))
            .SetSenderNonce(senderNonce);
        if (context.TransactionId.Length > 0)
        {
            builder.SetTransactionID(context.TransactionId);
        }
        if (context.RecipNonce is not null)
        {
            builder.SetRecipNonce(context.RecipNonce);
        }
        return new BuiltResponse(new PkiMessage(builder.Build(), body).GetEncoded(Asn1Encodable.Der), senderNonce);
    }

    /// <summary>
    /// The PKIMessage (RFC 9810 §5.1) from the bytes already encoded: header and body as they were protected, the
    /// protection, and the extraCerts (encoded once per certificate and kept). The same DER as encoding the structures
    /// again, without building and walking them a second time: the body carries whole certificates.
    /// </summary>
    internal static byte[] Assemble(byte[] protectedPart, byte[] protection, X509CertificateStructure[] extraCerts)
    {
        var reader = new System.Formats.Asn1.AsnReader(protectedPart, System.Formats.Asn1.AsnEncodingRules.DER);
        System.Formats.Asn1.AsnReader parts = reader.ReadSequence();
        ReadOnlyMemory<byte> header = parts.ReadEncodedValue();
        ReadOnlyMemory<byte> body = parts.ReadEncodedValue();
        var writer = new System.Formats.Asn1.AsnWriter(System.Formats.Asn1.AsnEncodingRules.DER, protectedPart.Length + protection.Length + 2048);
        using (writer.PushSequence())
        {
            writer.WriteEncodedValue(header.Span);
            writer.WriteEncodedValue(body.Span);
            using (writer.PushSequence(new System.Formats.Asn1.Asn1Tag(System.Formats.Asn1.TagClass.ContextSpecific, 0, isConstructed: true)))
            {
                writer.WriteBitString(protection);
            }
            if (extraCerts.Length > 0)
            {
                using (writer.PushSequence(new System.Formats.Asn1.Asn1Tag(System.Formats.Asn1.TagClass.ContextSpecific, 1, isConstructed: true)))
                using (writer.PushSequence())
                {
                    foreach (X509CertificateStructure certificate in extraCerts)
                    {
                        writer.WriteEncodedValue(EncodedCertificates.GetValue(certificate, c => c.GetEncoded(Asn1Encodable.Der)));
                    }
                }
            }
        }
        return writer.Encode();
    }

    /// <summary>The DER of each extraCerts certificate (the CA chain: a handful of objects for the process's life).</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<X509CertificateStructure, byte[]> EncodedCertificates = new();

    /// <summary>
    /// RFC 9810 §5.3.21 error message: status rejection, the failInfo bit and a client-safe text, followed by the
    /// diagnostic id under which the server logged the request (so an operator can find why a device was refused).
    /// </summary>
    public static PkiBody Error(CmpFailure failure, string? diagnosticId = null) =>
        new(PkiBody.TYPE_ERROR, new ErrorMsgContent(Rejection(failure, diagnosticId)));

    private static PkiStatusInfo Rejection(CmpFailure failure, string? diagnosticId) => new(
        (int)PkiStatus.Rejection,
        new PkiFreeText(diagnosticId is null ? failure.ClientText : $"{failure.ClientText} (diagnostic id {diagnosticId})"),
        new Org.BouncyCastle.Asn1.Cmp.PkiFailureInfo(FailInfoBits(failure.FailInfo)));

    /// <summary>
    /// rp, RFC 9810 §5.3.10 and RFC 9483 §4.2: one PKIStatusInfo, accepted; or rejection with the failure's failInfo bit,
    /// which is how a CA that understood the request says why it did not revoke (an error message is for the rest).
    /// </summary>
    public static PkiBody RevocationResponse(CmpFailure? failure, string? diagnosticId = null)
    {
        PkiStatusInfo status = failure is null ? new PkiStatusInfo((int)PkiStatus.Granted) : Rejection(failure, diagnosticId);
        return new PkiBody(PkiBody.TYPE_REVOCATION_REP, new RevRepContentBuilder().Add(status).Build());
    }

    /// <summary>ip / cp / kup with status waiting and no certificate (RFC 9483 §4.4): the client polls with pollReq.</summary>
    public static PkiBody Waiting(PkiBodyType type, DerInteger certReqId) =>
        new((int)type, new CertRepMessage(null, [new CertResponse(certReqId, new PkiStatusInfo((int)PkiStatus.Waiting), null, null)]));

    /// <summary>pollRep, RFC 9810 §5.3.22: poll again after <paramref name="checkAfterSeconds"/>.</summary>
    public static PkiBody PollRep(long certReqId, int checkAfterSeconds, string reason) =>
        new(PkiBody.TYPE_POLL_REP, new PollRepContent(DerInteger.ValueOf(certReqId), DerInteger.ValueOf(checkAfterSeconds), new PkiFreeText(reason)));

    /// <summary>pkiConf, RFC 9810 §5.3.17: the body is NULL.</summary>
    public static PkiBody PkiConf() => new(PkiBody.TYPE_CONFIRM, DerNull.Instance);

    /// <summary>
    /// ip / cp / kup with one accepted certificate (RFC 9810 §5.3.4), the CA certificates for caPubs, and a
    /// server-generated <paramref name="privateKey"/> if there is one (RFC 9810 §5.2.2 EncryptedKey).
    /// </summary>
    public static PkiBody CertResponse(PkiBodyType type, DerInteger certReqId, X509CertificateStructure certificate, X509CertificateStructure[] caPubs,
        bool grantedWithMods = false, Org.BouncyCastle.Asn1.Crmf.EncryptedKey? privateKey = null)
    {
        var response = new CertResponse(
            certReqId,
            new PkiStatusInfo((int)(grantedWithMods ? PkiStatus.GrantedWithMods : PkiStatus.Granted)),
            new CertifiedKeyPair(new CertOrEncCert(new CmpCertificate(certificate)), privateKey, null),
            rspInfo: null);
        CmpCertificate[]? pubs = caPubs.Length == 0 ? null : caPubs.Select(c => new CmpCertificate(c)).ToArray();
        return new PkiBody((int)type, new CertRepMessage(pubs, [response]));
    }

    /// <summary>
    /// PKIFailureInfo as a DER named-bit BIT STRING with only <paramref name="bit"/> set: bit n is the
    /// (n mod 8)-th most significant bit of byte n/8, and trailing unused bits are counted as padding.
    /// </summary>
    public static DerBitString FailInfoBits(PkiFailureInfo bit)
    {
        int n = (int)bit;
        byte[] bytes = new byte[n / 8 + 1];
        bytes[n / 8] = (byte)(0x80 >> (n % 8));
        return new DerBitString(bytes, 7 - n % 8);
    }
}
