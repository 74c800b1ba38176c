namespace CmpCluster.Grains.Pki;

/// <summary>
/// A key cannot sign now: its PKCS#11 token is gone, logged out or failing. Nothing was signed. It crosses grain calls (a
/// certificate grain cannot sign, the transaction answers systemUnavail, RFC 9810 §5.2.3), hence the serializer. The
/// message names the CA key and the token's return value, never the PIN; clients get only the CA's name.
/// </summary>
[GenerateSerializer]
[Alias("CmpCluster.KeyUnavailableException")]
public sealed class KeyUnavailableException : Exception
{
    public KeyUnavailableException()
        : base("a CA key is unavailable")
    {
    }

    public KeyUnavailableException(string message)
        : base(message)
    {
    }

    public KeyUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public KeyUnavailableException(string key, string message)
        : base(message)
    {
        Key = key;
    }

    public KeyUnavailableException(string key, string message, Exception innerException)
        : base(message, innerException)
    {
        Key = key;
    }

    /// <summary>The key ring's name of the key (<c>issuing</c>, <c>issuing/cmp</c>, <c>issuing/ocsp</c>).</summary>
    [Id(0)]
    public string? Key { get; init; }
}
