using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using Xunit;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>Flow 4: a request MAC-protected with the wrong secret is refused with badMessageCheck, in a signed error.</summary>
public sealed class WrongSecretTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private NodeProcess Node => fixture.Node;

    [Theory]
    [InlineData(".well-known/cmp/p/ra", "ra")]
    [InlineData("cmp/" + NodeFixture.SigAlias, NodeFixture.SigAlias)]
    public async Task Wrong_secret_is_refused_with_badMessageCheck_signed_by_the_cmp_signer(string path, string reference)
    {
        using var dir = new TempDirectory("wrong-secret");
        await OpenSsl.GenerateP256KeyAsync(dir.Path);

        OpenSslResult result = await new CmpEnrollment
        {
            Path = path,
            Reference = reference,
            Secret = "wrong",
            ResponsesOut = "error.der",
        }.RunAsync(Node, dir.Path);

        E2e.Failed(result, Node);
        E2e.OutputContains(result, "badMessageCheck", Node);
        E2e.OutputContains(result, "received ERROR", Node);
        Assert.False(File.Exists(dir.File("cert.pem")), "a certificate was written although the request was refused");

        CmpResponseView error = E2e.ReadSaved(dir.File("error.der"), Node);
        Assert.Equal(PkiBodyType.Error, error.BodyType);
        Assert.Contains(PkiFailureInfo.BadMessageCheck, error.FailInfo);
        // The MAC did not verify, so the server cannot MAC its answer: it signs it with the CMP signer.
        Assert.True(error.VerifySignature(E2e.DerOfPem(Node.CmpSignerPath)), "the error is not signed by the CMP signer");
    }

    [Fact]
    public async Task Unprotected_request_is_refused_with_badMessageCheck()
    {
        using var dir = new TempDirectory("unprotected");
        await OpenSsl.GenerateP256KeyAsync(dir.Path);

        OpenSslResult result = await new CmpEnrollment { ResponsesOut = "error.der", Extra = ["-unprotected_requests"] }.RunAsync(Node, dir.Path);

        E2e.Failed(result, Node);
        E2e.OutputContains(result, "badMessageCheck", Node);
        Assert.False(File.Exists(dir.File("cert.pem")), "a certificate was issued for an unprotected request");
        CmpResponseView error = E2e.ReadSaved(dir.File("error.der"), Node);
        Assert.Contains(PkiFailureInfo.BadMessageCheck, error.FailInfo);
        Assert.True(error.VerifySignature(E2e.DerOfPem(Node.CmpSignerPath)), "the error is not signed by the CMP signer");
    }
}
