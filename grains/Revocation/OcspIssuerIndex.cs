using System.Security.Cryptography;
using CmpCluster.Grains.Pki;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Nist;
using Org.BouncyCastle.Asn1.Ocsp;
using Org.BouncyCastle.Asn1.Oiw;

namespace CmpCluster.Grains.Revocation;

/// <summary>The CA a CertID names and which of its keys: the current one, or a retired one (<see cref="RetiredCaKey"/>).</summary>
public sealed record OcspIssuer(CertificateAuthorityKeys Ca, KeyHolder Key)
{
    public bool IsCurrentKey => ReferenceEquals(Key, Ca.Ca);
}

/// <summary>
/// Finds the CA a CertID names (RFC 6960 §4.1.1): issuerNameHash is the hash of the issuer's DER-encoded Name,
/// issuerKeyHash the hash of its subjectPublicKey BIT STRING value, so a CA's retired keys (same name, their own key) are
/// told apart from its current one. Precomputed once per process for SHA-1 (what OpenSSL and most clients send), SHA-256,
/// SHA-384 and SHA-512; again when a CA joins the key ring.
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

    private readonly PkiKeyRing _keys;
    private Index _index;

    /// <summary>One build of the hashes, replaced whole (readers keep the one they took).</summary>
    private sealed record Index(int Version, List<(DerObjectIdentifier Oid, byte[] NameHash, byte[] KeyHash, OcspIssuer Issuer)> Entries);

    public OcspIssuerIndex(PkiKeyRing keys)
    {
        _keys = keys;
        _index = Build(keys);
    }

    /// <summary>The hashes of every CA of the ring as it is now; rebuilt when a CA joins it (admin API).</summary>
    private static Index Build(PkiKeyRing keys)
    {
        int version = keys.Version;
        var entries = new List<(DerObjectIdentifier Oid, byte[] NameHash, byte[] KeyHash, OcspIssuer Issuer)>();
        foreach (CertificateAuthorityKeys ca in keys.Authorities)
        {
            foreach (KeyHolder caKey in ca.Retired.Select(r => r.Ca).Prepend(ca.Ca))
            {
                byte[] name = caKey.Certificate.Subject.GetEncoded(Asn1Encodable.Der);
                byte[] key = caKey.Certificate.SubjectPublicKeyInfo.PublicKey.GetBytes();
                var issuer = new OcspIssuer(ca, caKey);
                foreach ((DerObjectIdentifier oid, Func<byte[], byte[]> hash) in Algorithms)
                {
                    entries.Add((oid, hash(name), hash(key), issuer));
                }
            }
        }
        return new Index(version, entries);
    }

    /// <summary>The CA and key this CertID names, or null (unknown hash algorithm or a foreign issuer).</summary>
    public OcspIssuer? Find(CertID id)
    {
        Index index = _index;
        if (Find(id, index.Entries) is { } issuer)
        {
            return issuer;
        }
        // A CA this silo has not indexed yet: one made through the admin API, here or on another silo.
        _keys.Recorded?.Refresh(_keys);
        if (_keys.Version == index.Version)
        {
            return null;
        }
        _index = index = Build(_keys);
        return Find(id, index.Entries);
    }

    private static OcspIssuer? Find(CertID id, List<(DerObjectIdentifier Oid, byte[] NameHash, byte[] KeyHash, OcspIssuer Issuer)> entries)
    {
        DerObjectIdentifier algorithm = id.HashAlgorithm.Algorithm;
        byte[] nameHash = id.IssuerNameHash.GetOctets();
        byte[] keyHash = id.IssuerKeyHash.GetOctets();
        foreach ((DerObjectIdentifier oid, byte[] name, byte[] key, OcspIssuer issuer) in entries)
        {
            if (oid.Equals(algorithm) && name.AsSpan().SequenceEqual(nameHash) && key.AsSpan().SequenceEqual(keyHash))
            {
                return issuer;
            }
        }
        return null;
    }
}
