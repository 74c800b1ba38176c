using System.Net;
using System.Net.Http.Headers;
using CmpCluster.Tests.EndToEnd;
using Xunit;

namespace CmpCluster.Tests.Admin;

/// <summary>
/// The operator surfaces (admin API, OpenAPI, /metrics, Orleans Dashboard) answer on the management listener only, the
/// device surfaces (CMP, CRL, OCSP) on the device listener only, and the health probes on both. Which listener is the
/// connection's port: a Host header naming the management port does not open the admin API on the device port.
/// </summary>
public sealed class ManagementListenerTests(AdminNodeFixture fixture) : IClassFixture<AdminNodeFixture>
{
    private NodeProcess Node => fixture.Node;

    public static TheoryData<string> OperatorPaths => new() { "api/v1/cas", "openapi/v1.json", "metrics", "dashboard/" };

    [Theory]
    [MemberData(nameof(OperatorPaths))]
    public async Task An_operator_path_answers_on_the_management_port_and_is_404_on_the_device_port(string path)
    {
        using HttpClient management = fixture.Client();
        using HttpClient device = Admin.Client(Node, AdminNodeFixture.Token, null, onDevicePort: true);

        using (HttpResponseMessage answer = await management.GetAsync(path))
        {
            Assert.True(answer.StatusCode == HttpStatusCode.OK, $"{path} on the management port: {(int)answer.StatusCode}\n{Node.Diagnostics()}");
        }
        using (HttpResponseMessage hidden = await device.GetAsync(path))
        {
            Assert.Equal(HttpStatusCode.NotFound, hidden.StatusCode);
        }
        using var spoofed = new HttpRequestMessage(HttpMethod.Get, path);
        spoofed.Headers.Host = $"127.0.0.1:{Node.ManagementPort}";
        using (HttpResponseMessage stillHidden = await device.SendAsync(spoofed))
        {
            Assert.Equal(HttpStatusCode.NotFound, stillHidden.StatusCode);
        }
    }

    [Fact]
    public async Task Cmp_crl_and_ocsp_answer_on_the_device_port_and_are_404_on_the_management_port()
    {
        using var dir = new TempDirectory("management-device");
        await OpenSsl.GenerateP256KeyAsync(dir.Path);
        E2e.Succeeded(await new CmpEnrollment { Subject = "/CN=management-split/O=Example" }.RunAsync(Node, dir.Path), Node);

        using HttpClient device = Node.CreateHttpClient();
        using HttpClient management = Node.CreateManagementClient();
        Assert.Equal(HttpStatusCode.OK, (await device.GetAsync("crl/issuing.crl")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await management.GetAsync("crl/issuing.crl")).StatusCode);
        foreach (string cmp in new[] { ".well-known/cmp/p/ra", "cmp/ra", "ocsp" })
        {
            using var body = new ByteArrayContent([0x30, 0x00]);
            body.Headers.ContentType = new MediaTypeHeaderValue(cmp == "ocsp" ? "application/ocsp-request" : "application/pkixcmp");
            Assert.Equal(HttpStatusCode.NotFound, (await management.PostAsync(cmp, body)).StatusCode);
        }
        foreach (string probe in new[] { "health", "healthz", "readyz" })
        {
            Assert.Equal(HttpStatusCode.OK, (await device.GetAsync(probe)).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await management.GetAsync(probe)).StatusCode);
        }
    }

    [Fact]
    public async Task A_deployment_that_asks_for_it_gets_the_admin_api_on_the_device_port()
    {
        await using NodeProcess node = await NodeProcess.StartAsync(
            [$"--Admin:Tokens:0={AdminNodeFixture.Token}", "--Management:Urls=", "--Management:ServeOnDevicePort=true"]);
        using HttpClient device = Admin.Client(node, AdminNodeFixture.Token, null, onDevicePort: true);

        using HttpResponseMessage cas = await device.GetAsync("api/v1/cas");
        Assert.True(cas.StatusCode == HttpStatusCode.OK, $"{(int)cas.StatusCode}\n{node.Diagnostics()}");
        Assert.DoesNotContain($"Now listening on: http://127.0.0.1:{node.ManagementPort}", node.Output);
    }
}
