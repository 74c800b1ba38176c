using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Configuration;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Cmp;
using Org.BouncyCastle.Asn1.Iana;
using Org.BouncyCastle.Asn1.Nist;
using Org.BouncyCastle.Asn1.Pkcs;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Protocol.Protection;

/// <summary>
/// PasswordBasedMac, RFC 4211 §4.4 as profiled by RFC 9481 §6.1.1. One instance holds the key derived from one
/// secret and one PBMParameter, so a response protected with the request's parameters reuses it.
/// </summary>
public sealed class PasswordBasedMac
{
    private readonly byte[] _key;
    private readonly HashAlgorithmName _mac;

    private PasswordBasedMac(AlgorithmIdentifier algorithm, byte[] key, HashAlgorithmName mac)
    {
        Algorithm = algorithm;
        _key = key;
        _mac = mac;
    }

    /// <summary>The derived key, to hand a verified MAC to the engine that protects the response (never the secret).</summary>
    public byte[] ExportKey() => _key.ToArray();

    /// <summary>Rebuilds a MAC from a key derived elsewhere (<see cref="ExportKey"/>) for the same parameters.</summary>
    public static PasswordBasedMac FromDerivedKey(AlgorithmIdentifier algorithm, byte[] key)
    {
        PbmParameter parameters = PbmParameter.GetInstance(algorithm.Parameters);
        HashAlgorithmName mac = MacFunction(parameters.Mac.Algorithm)
            ?? throw new CmpFailureException(PkiFailureInfo.BadAlg, "PBM MAC algorithm is not supported");
        return new PasswordBasedMac(algorithm, key, mac);
    }

    /// <summary>The protectionAlg this key was derived for: reused verbatim in responses.</summary>
    public AlgorithmIdentifier Algorithm { get; }

    public static bool IsPasswordBasedMac(AlgorithmIdentifier? algorithm) =>
        algorithm is not null && algorithm.Algorithm.Equals(CmpObjectIdentifiers.passwordBasedMac);

    /// <summary>
    /// Checks the parameters against the limits, then derives the key: basekey = H(secret || salt), iterated so
    /// that the one-way function runs iterationCount times in all.
    /// </summary>
    public static PasswordBasedMac Derive(AlgorithmIdentifier algorithm, ReadOnlySpan<byte> secret, CmpLimits limits)
    {
        (byte[] salt, int iterations, HashAlgorithmName owf, HashAlgorithmName mac) = Check(algorithm, limits);
        Span<byte> digest = stackalloc byte[64];
        // SHA-256, the one-way function of OpenSSL's and RFC 9481 §6.1.1's default: straight into libcrypto where it can
        // (about 8x cheaper, see OpenSslDirect); the same bytes either way.
        if (owf == HashAlgorithmName.SHA256 && OpenSslDirect.TryIterateSha256(secret, salt, iterations, digest))
        {
            return new PasswordBasedMac(algorithm, digest[..32].ToArray(), mac);
        }
        return new PasswordBasedMac(algorithm, IterateManaged(owf, secret, salt, iterations, digest), mac);
    }

    /// <summary>The one-way function iterated through .NET: any of the allowed digests.</summary>
    public static byte[] IterateManaged(HashAlgorithmName owf, ReadOnlySpan<byte> secret, ReadOnlySpan<byte> salt, int iterations, Span<byte> digest)
    {
        // One incremental hash object for all iterations: a one-shot hash per iteration costs about four times as much
        // (each call sets up an OpenSSL digest context), which made PBM the largest CPU cost of a transaction.
        using var hash = IncrementalHash.CreateHash(owf);
        hash.AppendData(secret);
        hash.AppendData(salt);
        int length = hash.GetHashAndReset(digest);
        for (int i = 1; i < iterations; i++)
        {
            hash.AppendData(digest[..length]);
            hash.GetHashAndReset(digest);
        }
        return digest[..length].ToArray();
    }

    /// <summary>
    /// The parameter floors and ceilings (RFC 9481 §6.1.1, RFC 9483 §3.2), without hashing anything: salt length,
    /// iteration count, and the one-way function and MAC among those the limits allow. Out-of-bounds counts and salts are
    /// badMessageCheck; an algorithm that is not allowed is badAlg. Callers that hand the derivation to another grain call
    /// this first, so an alias's floors hold before any work.
    /// </summary>
    public static (byte[] Salt, int Iterations, HashAlgorithmName Owf, HashAlgorithmName Mac) Check(AlgorithmIdentifier algorithm, CmpLimits limits)
    {
        PbmParameter? parameters;
        try
        {
            parameters = PbmParameter.GetInstance(algorithm.Parameters);
        }
        catch (Exception e) when (e is ArgumentException or InvalidCastException)
        {
            throw new CmpFailureException(PkiFailureInfo.BadAlg, "PBM parameters are malformed");
        }
        if (parameters is null)
        {
            throw new CmpFailureException(PkiFailureInfo.BadAlg, "PBM parameters are missing");
        }
        byte[] salt = parameters.Salt.GetOctets();
        if (salt.Length < limits.MinPbmSaltBytes || salt.Length > 1024)
        {
            throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "PBM salt length is out of bounds");
        }
        int iterations = parameters.IterationCount.Value.BitLength > 31 ? int.MaxValue : parameters.IterationCount.IntValueExact;
        if (iterations < limits.MinPbmIterations || iterations > limits.MaxPbmIterations)
        {
            throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "PBM iteration count is out of bounds");
        }
        HashAlgorithmName owf = DigestAlgorithms.ByOid(parameters.Owf.Algorithm) is { } known && limits.PbmOneWayFunctions.Contains(known.Name!, StringComparer.OrdinalIgnoreCase)
            ? known
            : throw new CmpFailureException(PkiFailureInfo.BadAlg, "PBM one-way function is not supported or not allowed");
        HashAlgorithmName mac = MacFunction(parameters.Mac.Algorithm) is { } hmac && limits.PbmMacAlgorithms.Contains("HMAC-" + hmac.Name, StringComparer.OrdinalIgnoreCase)
            ? hmac
            : throw new CmpFailureException(PkiFailureInfo.BadAlg, "PBM MAC algorithm is not supported or not allowed");
        return (salt, iterations, owf, mac);
    }

    /// <summary>Builds parameters for a new protection (client side, or a server that starts a MAC exchange).</summary>
    public static AlgorithmIdentifier NewAlgorithm(int iterations = 10_000, int saltBytes = 16)
    {
        var parameters = new PbmParameter(
            RandomNumberGenerator.GetBytes(saltBytes),
            new AlgorithmIdentifier(NistObjectIdentifiers.IdSha256),
            iterations,
            new AlgorithmIdentifier(PkcsObjectIdentifiers.IdHmacWithSha256, DerNull.Instance));
        return new AlgorithmIdentifier(CmpObjectIdentifiers.passwordBasedMac, parameters);
    }

    public byte[] Compute(ReadOnlySpan<byte> protectedPart)
    {
        using var hmac = IncrementalHash.CreateHMAC(_mac, _key);
        hmac.AppendData(protectedPart);
        return hmac.GetHashAndReset();
    }

    /// <summary>Constant-time comparison of the received protection with our MAC.</summary>
    public bool Verify(ReadOnlySpan<byte> protectedPart, ReadOnlySpan<byte> protection) =>
        CryptographicOperations.FixedTimeEquals(Compute(protectedPart), protection);

    private static HashAlgorithmName? MacFunction(DerObjectIdentifier oid)
    {
        // hmac-sha1 has two registered OIDs (RFC 3370 / IPsec); OpenSSL 3.0 sends 1.3.6.1.5.5.8.1.2 by default.
        if (oid.Equals(IanaObjectIdentifiers.HmacSha1) || oid.Equals(PkcsObjectIdentifiers.IdHmacWithSha1)) return HashAlgorithmName.SHA1;
        if (oid.Equals(PkcsObjectIdentifiers.IdHmacWithSha256)) return HashAlgorithmName.SHA256;
        if (oid.Equals(PkcsObjectIdentifiers.IdHmacWithSha384)) return HashAlgorithmName.SHA384;
        if (oid.Equals(PkcsObjectIdentifiers.IdHmacWithSha512)) return HashAlgorithmName.SHA512;
        return null;
    }
}
