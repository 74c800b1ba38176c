using System.Security.Cryptography;
using CmpCluster.Grains.Pki;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Nist;
using Org.BouncyCastle.Asn1.Ocsp;
using Org.BouncyCastle.Asn1.Oiw;

namespace CmpCluster.Grains.Revocation;

/// <summary>
/// Finds the CA a CertID names (RFC 6960 §4.1.1): issuerNameHash is the hash of the issuer's DER-encoded Name,
/// issuerKeyHash the hash of its subjectPublicKey BIT STRING value. Precomputed once per process for SHA-1 (what OpenSSL
/// and most clients send), SHA-256, SHA-384 and SHA-512.
/// </summary>
public sealed class OcspIssuerIndex
{
    private static readonly (DerObjectIdentifier Oid, Func<byte[], byte[]> Hash)[] Algorithms =
    [
        (OiwObjectIdentifiers.IdSha1, SHA1.HashData),
        (NistObjectIdentifiers.IdSha256, SHA256.HashData),
        (NistObjectIdentifiers.IdSha384, SHA384.HashData),
        (NistObjectIdentifiers.IdSha512, SHA512.HashData),
    ];

    private readonly List<(DerObjectIdentifier Oid, byte[] NameHash, byte[] KeyHash, CertificateAuthorityKeys Ca)> _entries = [];

    public OcspIssuerIndex(PkiKeyRing keys)
    {
        foreach (CertificateAuthorityKeys ca in keys.Authorities)
        {
            byte[] name = ca.Ca.Certificate.Subject.GetEncoded(Asn1Encodable.Der);
            byte[] key = ca.Ca.Certificate.SubjectPublicKeyInfo.PublicKey.GetBytes();
            foreach ((DerObjectIdentifier oid, Func<byte[], byte[]> hash) in Algorithms)
            {
                _entries.Add((oid, hash(name), hash(key), ca));
            }
        }
    }

    /// <summary>The CA this CertID names, or null (unknown hash algorithm or a foreign issuer).</summary>
    public CertificateAuthorityKeys? Find(CertID id)
    {
        DerObjectIdentifier algorithm = id.HashAlgorithm.Algorithm;
        byte[] nameHash = id.IssuerNameHash.GetOctets();
        byte[] keyHash = id.IssuerKeyHash.GetOctets();
        foreach ((DerObjectIdentifier oid, byte[] name, byte[] key, CertificateAuthorityKeys ca) in _entries)
        {
            if (oid.Equals(algorithm) && name.AsSpan().SequenceEqual(nameHash) && key.AsSpan().SequenceEqual(keyHash))
            {
                return ca;
            }
        }
        return null;
    }
}
