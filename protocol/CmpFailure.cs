using CmpCluster.Contracts;

namespace CmpCluster.Protocol;

/// <summary>
/// A CMP-level failure: the failInfo bit and a text safe to show the client. Travels unchanged from where it is
/// detected to <see cref="Messages.CmpResponseBuilder"/>, which renders it once as an error message.
/// </summary>
public sealed record CmpFailure(PkiFailureInfo FailInfo, string ClientText)
{
    public override string ToString() => $"{FailInfo}: {ClientText}";
}

/// <summary>Carries a <see cref="CmpFailure"/> out of deep validation code; caught once by the transaction engine.</summary>
public sealed class CmpFailureException(CmpFailure failure) : Exception(failure.ToString())
{
    public CmpFailure Failure { get; } = failure;

    public CmpFailureException(PkiFailureInfo failInfo, string clientText) : this(new CmpFailure(failInfo, clientText))
    {
    }
}
