namespace CmpCluster.Contracts;

/// <summary>
/// Gateway-facing, read-only: a CA's current CRL (key: <see cref="GrainKeys.CertificateAuthority"/>). The same activation
/// as the silo-internal CA grain that issues CRLs; this interface can only read.
/// </summary>
[Alias("CmpCluster.ICrlGrain")]
public interface ICrlGrain : IGrainWithStringKey
{
    /// <summary>The current CRL; one is issued first when there is none or it is past its nextUpdate.</summary>
    [Alias("GetCrl")]
    Task<CrlInfo> GetCrlAsync();

    /// <summary>
    /// The current CRL signed by the CA's key of generation <paramref name="keyGeneration"/> (<see cref="CrlNames"/>): the
    /// CRL issuer is the certificate issuer, down to its key (RFC 5280 §5, §6.3.3). Null when the CA has no such key, or
    /// only a retired one whose certificate has ended.
    /// </summary>
    [Alias("GetCrlOfKey")]
    Task<CrlInfo?> GetCrlAsync(int keyGeneration);
}

/// <summary>
/// The name of a CA's CRL per key (the distribution point in the certificates that key signs, RFC 5280 §4.2.1.13): the
/// first key's is the CA's name, <c>issuing</c>; the key of the n-th renewal with a new key (<c>pki renew-ca --new-key</c>)
/// adds <c>.k{n}</c>, <c>issuing.k1</c>. CA names have no dot, so a name never reads as another CA's key.
/// </summary>
public static class CrlNames
{
    private const string Separator = ".k";

    public static string Of(string ca, int keyGeneration) => keyGeneration == 0 ? ca : $"{ca}{Separator}{keyGeneration}";

    /// <summary>The CA and key generation of a CRL name, or false for a name <see cref="Of"/> does not make.</summary>
    public static bool TryParse(string name, out string ca, out int keyGeneration)
    {
        int at = name.LastIndexOf(Separator, StringComparison.Ordinal);
        ca = at < 0 ? name : name[..at];
        keyGeneration = 0;
        return at < 0 || (int.TryParse(name.AsSpan(at + Separator.Length), System.Globalization.NumberStyles.None, null, out keyGeneration)
            && keyGeneration > 0 && Of(ca, keyGeneration) == name);
    }
}

/// <summary>A signed CRL (DER) and the facts about it.</summary>
[GenerateSerializer, Immutable]
[Alias("CmpCluster.CrlInfo")]
public sealed record CrlInfo(
    [property: Id(0)] byte[] Der,
    [property: Id(1)] long Number,
    [property: Id(2)] DateTimeOffset ThisUpdate,
    [property: Id(3)] DateTimeOffset NextUpdate,
    [property: Id(4)] int RevokedCount);

/// <summary>
/// Gateway-facing. The OCSP responder (RFC 6960), a stateless worker in every silo (key: <see cref="GrainKeys.OcspResponder"/>):
/// takes a DER OCSPRequest and returns a DER OCSPResponse, signed in the silo where the keys are.
/// </summary>
[Alias("CmpCluster.IOcspResponderGrain")]
public interface IOcspResponderGrain : IGrainWithStringKey
{
    [Alias("Respond")]
    Task<byte[]> RespondAsync(byte[] requestDer);
}
