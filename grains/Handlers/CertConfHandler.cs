using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Grains.Transactions;
using CmpCluster.Protocol;
using CmpCluster.Protocol.Protection;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Cmp;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Grains.Handlers;

/// <summary>
/// certConf, RFC 9810 §5.3.18: each certificate is confirmed when its CertStatus accepts it with the right
/// certHash, and revoked when the client rejects it, the hash is wrong, or no CertStatus names it.
/// </summary>
public sealed class CertConfHandler(IGrainFactory grains)
{
    /// <summary>The failure to answer with (null: pkiConf), and the keys of the certificates that are now confirmed.</summary>
    public async Task<Confirmation> HandleAsync(IReadOnlyList<CertStatus> statuses, IReadOnlyList<PendingCertificate> pending)
    {
        // A certConf that names a certificate we did not issue, or one twice, is malformed: nothing in it is trusted,
        // and since the transaction closes with it, every pending certificate is revoked (checked before any change).
        bool malformed = statuses.Count > pending.Count
            || statuses.Any(s => !pending.Any(p => s.CertReqID.HasValue(p.CertReqId)))
            || statuses.Select(s => s.CertReqID.Value).Distinct().Count() != statuses.Count;
        if (malformed)
        {
            foreach (PendingCertificate certificate in pending)
            {
                await grains.GetGrain<ICertificateGrain>(certificate.Key).RevokeAsync(new RevocationRequest(RevocationReason.CessationOfOperation, "malformed certConf"));
            }
            return new Confirmation(new CmpFailure(PkiFailureInfo.BadCertId, "certConf names certificates this transaction did not issue"), []);
        }
        CmpFailure? failure = null;
        var confirmed = new List<string>();
        foreach (PendingCertificate certificate in pending)
        {
            ICertificateGrain record = grains.GetGrain<ICertificateGrain>(certificate.Key);
            CertStatus? status = statuses.FirstOrDefault(s => s.CertReqID.HasValue(certificate.CertReqId));
            if (status is null)
            {
                await record.RevokeAsync(new RevocationRequest(RevocationReason.CessationOfOperation, "not confirmed by certConf"));
                failure ??= new CmpFailure(PkiFailureInfo.BadCertId, "certConf does not name the issued certificate");
                continue;
            }
            if (!HashMatches(status, certificate.Der))
            {
                await record.RevokeAsync(new RevocationRequest(RevocationReason.CessationOfOperation, "certHash mismatch"));
                failure ??= new CmpFailure(PkiFailureInfo.BadCertId, "certHash does not match the issued certificate");
                continue;
            }
            if (status.StatusInfo is { } info && info.Status.IntValueExact != (int)PkiStatus.Granted && info.Status.IntValueExact != (int)PkiStatus.GrantedWithMods)
            {
                // The client refused the certificate: revoke it; the answer is still pkiConf (RFC 9810 §5.3.18).
                await record.RevokeAsync(new RevocationRequest(RevocationReason.CessationOfOperation, "rejected by client"));
                continue;
            }
            if (await record.ConfirmAsync() == CertificateStatus.Confirmed)
            {
                confirmed.Add(certificate.Key);
            }
        }
        return new Confirmation(failure, confirmed);
    }

    /// <summary>
    /// certHash uses hashAlg when present (RFC 9480 §2.10), else the digest of the certificate's signature
    /// algorithm; SHA-256 is also accepted because older clients use it regardless.
    /// </summary>
    private static bool HashMatches(CertStatus status, byte[] certificateDer)
    {
        byte[] received = status.CertHash.GetOctets();
        if (status.HashAlg is { } hashAlg)
        {
            HashAlgorithmName? named = DigestAlgorithms.ByOid(hashAlg.Algorithm);
            return named is not null && CryptographicOperations.FixedTimeEquals(DigestAlgorithms.Hash(named.Value, certificateDer), received);
        }
        HashAlgorithmName digest = SignatureVerifier.SignatureDigest(SignatureAlgorithm(certificateDer)) ?? HashAlgorithmName.SHA256;
        return CryptographicOperations.FixedTimeEquals(DigestAlgorithms.Hash(digest, certificateDer), received)
            || CryptographicOperations.FixedTimeEquals(SHA256.HashData(certificateDer), received);
    }

    /// <summary>Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue } (RFC 5280 §4.1): only the
    /// second element is read; the certificate was stored by this CA, so it is well-formed.</summary>
    private static AlgorithmIdentifier SignatureAlgorithm(byte[] certificateDer)
    {
        var certificate = new System.Formats.Asn1.AsnReader(certificateDer, System.Formats.Asn1.AsnEncodingRules.DER).ReadSequence();
        certificate.ReadEncodedValue();
        return AlgorithmIdentifier.GetInstance(certificate.ReadEncodedValue().ToArray());
    }
}
