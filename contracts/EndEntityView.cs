namespace CmpCluster.Contracts;

/// <summary>EJBCA's end-entity status numbers (NEW 10, GENERATED 40). Frozen: values are stored and shown by the API.</summary>
public enum EndEntityStatus
{
    New = 10,
    Generated = 40,
}

[GenerateSerializer, Immutable]
[Alias("CmpCluster.EndEntityRegistration")]
public sealed record EndEntityRegistration(
    [property: Id(0)] string SubjectDn,
    [property: Id(1)] IReadOnlyList<string> SubjectAltNames,
    [property: Id(2)] string Ca,
    [property: Id(3)] string CertificateProfile,
    [property: Id(4)] string EndEntityProfile,
    [property: Id(5)] string? EnrollmentCode);

/// <summary>An end entity as the API shows it: never the enrollment code.</summary>
[GenerateSerializer, Immutable]
[Alias("CmpCluster.EndEntityView")]
public sealed record EndEntityView(
    [property: Id(0)] string Username,
    [property: Id(1)] string SubjectDn,
    [property: Id(2)] IReadOnlyList<string> SubjectAltNames,
    [property: Id(3)] string Ca,
    [property: Id(4)] string CertificateProfile,
    [property: Id(5)] string EndEntityProfile,
    [property: Id(6)] EndEntityStatus Status,
    [property: Id(7)] IReadOnlyList<string> CertificateKeys,
    [property: Id(8)] DateTimeOffset Created,
    [property: Id(9)] DateTimeOffset Modified,
    [property: Id(10)] bool EnrollmentOpen);
