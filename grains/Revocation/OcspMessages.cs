using System.Security.Cryptography;
using CmpCluster.Grains.Pki;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Ocsp;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Grains.Revocation;

/// <summary>What a well-formed OCSPRequest asks: its CertIDs and the nonce extension to echo, if any.</summary>
public sealed record OcspQuery(IReadOnlyList<CertID> Ids, X509Extension? Nonce);

/// <summary>OCSPRequest parsing and OCSPResponse building (RFC 6960 §4.1, §4.2), BouncyCastle types kept inside.</summary>
public static class OcspMessages
{
    /// <summary>RFC 8954 §2.1: a nonce is 1 to 32 octets; a responder refuses longer ones.</summary>
    public const int MaxNonceBytes = 32;

    /// <summary>Parses a DER OCSPRequest; null when it is malformed, empty, has more than <paramref name="maxEntries"/> CertIDs or a bad nonce.</summary>
    public static OcspQuery? TryParse(byte[] der, int maxEntries)
    {
        try
        {
            var request = OcspRequest.GetInstance(Asn1Object.FromByteArray(der));
            if (!request.GetEncoded(Asn1Encodable.Der).AsSpan().SequenceEqual(der))
            {
                return null; // trailing bytes or non-DER encoding: refuse rather than guess (RFC 6960 §4.1.1 says DER)
            }
            Asn1Sequence list = request.TbsRequest.RequestList;
            if (list.Count == 0 || list.Count > maxEntries)
            {
                return null;
            }
            CertID[] ids = list.Cast<Asn1Encodable>().Select(r => Org.BouncyCastle.Asn1.Ocsp.Request.GetInstance(r).ReqCert).ToArray();
            X509Extension? nonce = request.TbsRequest.RequestExtensions?.GetExtension(OcspObjectIdentifiers.PkixOcspNonce);
            if (nonce is not null && NonceLength(nonce) is < 1 or > MaxNonceBytes)
            {
                return null;
            }
            return new OcspQuery(ids, nonce);
        }
        catch (Exception e) when (e is ArgumentException or InvalidCastException or IOException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }

    /// <summary>An unsigned OCSPResponse with an error status and no responseBytes (RFC 6960 §4.2.1).</summary>
    public static byte[] Error(int status) =>
        new OcspResponse(new OcspResponseStatus(status), null).GetEncoded(Asn1Encodable.Der);

    public static SingleResponse Good(CertID id, DateTimeOffset thisUpdate, TimeSpan? validity) =>
        Single(id, new CertStatus(), thisUpdate, validity);

    /// <summary>RFC 6960 §2.2 "unknown": the responder does not know the certificate (never issued, or not by a CA it serves).</summary>
    public static SingleResponse Unknown(CertID id, DateTimeOffset thisUpdate, TimeSpan? validity) =>
        Single(id, new CertStatus(2, DerNull.Instance), thisUpdate, validity);

    /// <summary>revocationReason is omitted for unspecified, as on the CRL (RFC 5280 §5.3.1).</summary>
    public static SingleResponse Revoked(CertID id, DateTimeOffset revokedAt, Contracts.RevocationReason reason, DateTimeOffset thisUpdate, TimeSpan? validity)
    {
        CrlReason? crlReason = reason == Contracts.RevocationReason.Unspecified ? null : new CrlReason((int)reason);
        return Single(id, new CertStatus(new RevokedInfo(CrlBuilder.GeneralizedTime(revokedAt), crlReason)), thisUpdate, validity);
    }

    /// <summary>
    /// A successful response: BasicOCSPResponse signed by <paramref name="signer"/>, responderID byKey (SHA-1 of the
    /// signer's public key, RFC 6960 §4.2.1), the signer's certificate in certs when it is a delegated responder.
    /// </summary>
    public static byte[] Successful(KeyHolder signer, bool includeSignerCertificate, IEnumerable<SingleResponse> responses,
        X509Extension? nonce, DateTimeOffset producedAt)
    {
        byte[] keyHash = SHA1.HashData(signer.Certificate.SubjectPublicKeyInfo.PublicKey.GetBytes());
        X509Extensions? extensions = null;
        if (nonce is not null)
        {
            // RFC 6960 §4.4.1 / RFC 8954: the nonce comes back unchanged.
            var generator = new X509ExtensionsGenerator();
            generator.AddExtension(OcspObjectIdentifiers.PkixOcspNonce, false, nonce.Value.GetOctets());
            extensions = generator.Generate();
        }
        var data = new ResponseData(new ResponderID(new DerOctetString(keyHash)), CrlBuilder.GeneralizedTime(producedAt),
            new DerSequence(responses.ToArray()), extensions);
        byte[] signature = signer.Sign(data.GetEncoded(Asn1Encodable.Der), "ocsp");
        var basic = new BasicOcspResponse(data, signer.Signer.Algorithm, new DerBitString(signature),
            includeSignerCertificate ? new DerSequence(signer.Certificate) : null);
        var bytes = new ResponseBytes(OcspObjectIdentifiers.PkixOcspBasic, new DerOctetString(basic.GetEncoded(Asn1Encodable.Der)));
        return new OcspResponse(new OcspResponseStatus(OcspResponseStatus.Successful), bytes).GetEncoded(Asn1Encodable.Der);
    }

    private static SingleResponse Single(CertID id, CertStatus status, DateTimeOffset thisUpdate, TimeSpan? validity) =>
        new(id, status, CrlBuilder.GeneralizedTime(thisUpdate), validity is { } v ? CrlBuilder.GeneralizedTime(thisUpdate + v) : null, null);

    /// <summary>RFC 8954 §2.1: extnValue holds an OCTET STRING with the nonce; very old clients put the bytes there directly.</summary>
    private static int NonceLength(X509Extension nonce)
    {
        byte[] value = nonce.Value.GetOctets();
        try
        {
            return Asn1Object.FromByteArray(value) is Asn1OctetString inner ? inner.GetOctets().Length : value.Length;
        }
        catch (IOException)
        {
            return value.Length;
        }
    }
}
