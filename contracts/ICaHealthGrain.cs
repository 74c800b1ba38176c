namespace CmpCluster.Contracts;

/// <summary>Whether a CA of this cluster can sign now (its keys answer); a stateless worker in every silo, any key.</summary>
[Alias("CmpCluster.ICaHealthGrain")]
public interface ICaHealthGrain : IGrainWithStringKey
{
    [Alias("Check")]
    Task<CaHealth> CheckAsync(string ca);
}

/// <summary>A CA's health: unknown here, able to sign, or degraded (a key on a token that is away).</summary>
[GenerateSerializer, Immutable]
[Alias("CmpCluster.CaHealth")]
public sealed record CaHealth([property: Id(0)] bool Known, [property: Id(1)] bool CanSign);
