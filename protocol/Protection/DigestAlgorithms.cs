using System.Security.Cryptography;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Nist;
using Org.BouncyCastle.Asn1.Oiw;

namespace CmpCluster.Protocol.Protection;

/// <summary>The digests CMP names by OID (RFC 9481 §2: SHA-1 for compatibility, SHA-2), hashed through .NET.</summary>
public static class DigestAlgorithms
{
    public static HashAlgorithmName? ByOid(DerObjectIdentifier oid)
    {
        if (oid.Equals(OiwObjectIdentifiers.IdSha1)) return HashAlgorithmName.SHA1;
        if (oid.Equals(NistObjectIdentifiers.IdSha256)) return HashAlgorithmName.SHA256;
        if (oid.Equals(NistObjectIdentifiers.IdSha384)) return HashAlgorithmName.SHA384;
        if (oid.Equals(NistObjectIdentifiers.IdSha512)) return HashAlgorithmName.SHA512;
        return null;
    }

    public static byte[] Hash(HashAlgorithmName name, ReadOnlySpan<byte> data) => name.Name switch
    {
        "SHA1" => SHA1.HashData(data),
        "SHA256" => SHA256.HashData(data),
        "SHA384" => SHA384.HashData(data),
        "SHA512" => SHA512.HashData(data),
        _ => throw new CryptographicException($"unsupported digest {name.Name}"),
    };
}
